import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState, type DragEvent, type FormEvent } from 'react';
import { ErrorMessage } from '../../components/error-message';
import { described, Field } from '../../components/field';
import { TagCombobox } from '../../components/tag-combobox';
import type { UploadProgress } from '../../lib/api-client';
import { useApi } from '../../lib/api-context';
import type { Limits } from '../../lib/api-types';
import { formatBytes, formatMegapixels } from '../../lib/format';
import { keys, limitsQuery, meQuery } from '../../lib/queries';
import { readImageFacts, type ImageFacts } from './image-facts';
import { acceptedTypeNames, checkFile, checkQuota, checkText, parseTags, type Problem, type UploadField } from './validate';

// The upload: a file dropped or picked, its preview, title, description and tags, all checked
// against GET /limits (and the quota) before a byte is sent; then the upload with a progress
// bar fed by the browser's upload progress events, and the new image's page.

type Phase =
  | { kind: 'editing' }
  | { kind: 'sending'; progress: UploadProgress | undefined }
  | { kind: 'processing' }
  | { kind: 'failed'; error: unknown };

interface ChosenFile {
  file: File;
  facts: ImageFacts | undefined;
  previewUrl: string | undefined;
}

export function UploadForm({ onUploaded }: { onUploaded: (imageId: string) => void }) {
  const api = useApi();
  const limits = useQuery(limitsQuery(api));
  if (limits.isPending) return <p className="muted" role="status">Checking what Easel accepts…</p>;
  if (limits.isError) return <ErrorMessage error={limits.error} title="The upload form could not be prepared" onRetry={() => void limits.refetch()} />;
  return <UploadFormWithLimits limits={limits.data} onUploaded={onUploaded} />;
}

function UploadFormWithLimits({ limits, onUploaded }: { limits: Limits; onUploaded: (imageId: string) => void }) {
  const id = useId();
  const api = useApi();
  const queryClient = useQueryClient();
  const [chosen, setChosen] = useState<ChosenFile | undefined>();
  const [title, setTitle] = useState('');
  const [description, setDescription] = useState('');
  const [tags, setTags] = useState('');
  const [problems, setProblems] = useState<Problem[]>([]);
  // The list of every problem shows after an attempt to upload; a chosen file's problem shows at its field at once.
  const [showSummary, setShowSummary] = useState(false);
  const [phase, setPhase] = useState<Phase>({ kind: 'editing' });
  const [dragging, setDragging] = useState(false);
  const abort = useRef<AbortController | undefined>(undefined);
  const summary = useRef<HTMLDivElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const busy = phase.kind === 'sending' || phase.kind === 'processing';

  // The preview's object URL lives as long as its file is chosen.
  useEffect(() => () => {
    if (chosen?.previewUrl) URL.revokeObjectURL(chosen.previewUrl);
  }, [chosen]);
  // A file dropped beside the drop zone must not make the browser leave the page to show it.
  useEffect(() => {
    const keep = (event: Event) => event.preventDefault();
    window.addEventListener('dragover', keep);
    window.addEventListener('drop', keep);
    return () => {
      window.removeEventListener('dragover', keep);
      window.removeEventListener('drop', keep);
      abort.current?.abort();
    };
  }, []);

  const choose = async (file: File | undefined) => {
    if (!file) return;
    setPhase({ kind: 'editing' });
    // Within the size limit the header is read for type and pixels; a bigger file is refused by its size alone.
    const facts = file.size > 0 && file.size <= limits.maxBytes ? await readImageFacts(file) : undefined;
    const fileProblems = checkFile(file, facts, limits);
    const previewUrl = fileProblems.length === 0 ? URL.createObjectURL(file) : undefined;
    setChosen({ file, facts, previewUrl });
    setShowSummary(false);
    setProblems((current) => [...fileProblems, ...current.filter((problem) => problem.field !== 'file')]);
  };

  const onDrop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault();
    setDragging(false);
    if (!busy) void choose(event.dataTransfer.files[0]);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    // The quota as it is now (this also renews the session if it expired while the form was open).
    const me = await queryClient.fetchQuery({ ...meQuery(api), staleTime: 0 }).catch(() => undefined);
    const fileProblems = checkFile(chosen?.file, chosen?.facts, limits);
    const found = [...fileProblems, ...(fileProblems.length === 0 ? checkQuota(me) : []), ...checkText({ title, description, tags }, limits)];
    setProblems(found);
    setShowSummary(found.length > 0);
    if (found.length > 0) {
      summary.current?.focus();
      return;
    }
    const form = new FormData();
    form.append('title', title);
    form.append('description', description);
    form.append('tags', parseTags(tags).join(','));
    form.append('image', chosen!.file, chosen!.file.name);
    abort.current = new AbortController();
    setPhase({ kind: 'sending', progress: undefined });
    try {
      const { imageID } = await api.upload(form, (progress) => {
        setPhase(progress.sent >= progress.total ? { kind: 'processing' } : { kind: 'sending', progress });
      }, abort.current.signal);
      void queryClient.invalidateQueries({ queryKey: keys.images });
      void queryClient.invalidateQueries({ queryKey: keys.me });
      void queryClient.invalidateQueries({ queryKey: ['tags'] });
      onUploaded(imageID);
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') setPhase({ kind: 'editing' });
      else setPhase({ kind: 'failed', error });
    }
  };

  const problemFor = (field: UploadField) => problems.find((problem) => problem.field === field)?.message;
  const fileProblem = problemFor('file');

  return (
    <form className="form upload-form" onSubmit={(event) => void submit(event)} noValidate aria-describedby={`${id}-limits`}>
      <p id={`${id}-limits`} className="hint">
        {acceptedTypeNames(limits)} up to {formatBytes(limits.maxBytes)} and {formatMegapixels(limits.maxPixels)}.
      </p>
      <div ref={summary} tabIndex={-1} className="summary-anchor">
        {showSummary && problems.length > 0 ? (
          <div className="notice notice-error" role="alert">
            <p><strong>Please fix {problems.length === 1 ? 'this' : 'these'} before uploading:</strong></p>
            <ul>
              {problems.map((problem) => <li key={problem.field + problem.message}>{problem.message}</li>)}
            </ul>
          </div>
        ) : null}
      </div>

      <div
        className={`drop-zone${dragging ? ' dragging' : ''}${fileProblem ? ' invalid' : ''}`}
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        {chosen?.previewUrl ? (
          <img className="preview" src={chosen.previewUrl} alt={title.trim() ? `Preview of ${title}` : 'Preview of the chosen image'} width={chosen.facts?.width} height={chosen.facts?.height} />
        ) : (
          <p className="drop-hint">Drop an image here, or choose one.</p>
        )}
        <Field id={`${id}-file`} label={chosen ? 'Image (choose another to replace it)' : 'Image'} problem={fileProblem}>
          <input
            ref={fileInput}
            id={`${id}-file`}
            name="image"
            type="file"
            accept={limits.types.join(',')}
            disabled={busy}
            onChange={(event) => void choose(event.target.files?.[0])}
            {...described(`${id}-file`, fileProblem)}
          />
        </Field>
        {chosen && !fileProblem && chosen.facts ? (
          <p className="muted">{chosen.file.name}: {chosen.facts.width} × {chosen.facts.height}, {formatBytes(chosen.file.size)}</p>
        ) : null}
      </div>

      <Field id={`${id}-title`} label="Title" hint={`Also the image's description for people who cannot see it. Up to ${limits.maxTitle} characters.`} problem={problemFor('title')}>
        <input id={`${id}-title`} name="title" value={title} disabled={busy} onChange={(event) => setTitle(event.target.value)} {...described(`${id}-title`, problemFor('title'), true)} />
      </Field>
      <Field id={`${id}-description`} label="Description" hint={`Optional. Up to ${limits.maxDescription} characters.`} problem={problemFor('description')}>
        <textarea id={`${id}-description`} name="description" rows={4} value={description} disabled={busy} onChange={(event) => setDescription(event.target.value)} {...described(`${id}-description`, problemFor('description'), true)} />
      </Field>
      <Field id={`${id}-tags`} label="Tags" hint={`Up to ${limits.maxTags}, separated by commas: letters, digits, “-” and “_”.`} problem={problemFor('tags')}>
        <TagCombobox id={`${id}-tags`} name="tags" multiple value={tags} disabled={busy} onValueChange={setTags} {...described(`${id}-tags`, problemFor('tags'), true)} />
      </Field>

      {phase.kind === 'sending' || phase.kind === 'processing' ? (
        <div className="progress" role="status">
          <label htmlFor={`${id}-progress`}>
            {phase.kind === 'processing'
              ? 'Uploaded. Making the thumbnails…'
              : phase.progress
                ? `Uploading… ${Math.floor((phase.progress.sent / phase.progress.total) * 100)}% (${formatBytes(phase.progress.sent)} of ${formatBytes(phase.progress.total)})`
                : 'Starting the upload…'}
          </label>
          {phase.kind === 'sending' && phase.progress ? (
            <progress id={`${id}-progress`} max={phase.progress.total} value={phase.progress.sent} />
          ) : (
            <progress id={`${id}-progress`} />
          )}
        </div>
      ) : null}
      {phase.kind === 'failed' ? <ErrorMessage error={phase.error} title="The image was not uploaded" /> : null}

      <div className="actions">
        <button type="submit" className="button primary" disabled={busy}>{busy ? 'Uploading…' : 'Upload'}</button>
        {phase.kind === 'sending' ? <button type="button" className="button" onClick={() => abort.current?.abort()}>Cancel</button> : null}
      </div>
    </form>
  );
}
