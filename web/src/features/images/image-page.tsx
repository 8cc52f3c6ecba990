import { useQuery } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { ErrorMessage } from '../../components/error-message';
import { described, Field } from '../../components/field';
import { altText } from '../../components/image-grid';
import { usePageTitle } from '../../components/page-title';
import { TagCombobox } from '../../components/tag-combobox';
import { useApi } from '../../lib/api-context';
import { ApiError } from '../../lib/api-error';
import type { Limits, PublicImage } from '../../lib/api-types';
import { formatBytes, formatDate, plural } from '../../lib/format';
import { imageQuery, imageUrl, likeStateQuery, limitsQuery, variantSides, variantWidth } from '../../lib/queries';
import { useMe } from '../auth/session';
import { checkText, parseTags, type Problem } from '../upload/validate';
import { useDeleteImage, useEditImage, useLikeToggle } from './image-mutations';

// One image: the medium variant, its words, its author, likes, the original; its author may
// edit the words and tags or delete it (after confirming).

export function ImagePage() {
  const id = useParams().id ?? '';
  const api = useApi();
  const image = useQuery(imageQuery(api, id));
  const me = useMe();
  usePageTitle(image.data ? altText(image.data) : undefined);

  if (image.isPending) return <p className="page muted" role="status">Loading the image…</p>;
  if (image.isError) {
    const gone = image.error instanceof ApiError && image.error.code === 'NOT_FOUND';
    return (
      <section className="page">
        <h1>{gone ? 'Image not found' : 'The image could not be loaded'}</h1>
        {gone ? <p>This image does not exist, or its author deleted it.</p> : <ErrorMessage error={image.error} onRetry={() => void image.refetch()} />}
        <p>
          <Link to="/">Back to the home page</Link>
        </p>
      </section>
    );
  }
  const isAuthor = me.data?.name === image.data.author;
  return <ImageView image={image.data} signedIn={Boolean(me.data)} isAuthor={isAuthor} />;
}

function ImageView({ image, signedIn, isAuthor }: { image: PublicImage; signedIn: boolean; isAuthor: boolean }) {
  const [editing, setEditing] = useState(false);
  const width = variantWidth(image, variantSides.medium);
  const height = Math.max(1, Math.round((image.height * width) / Math.max(1, image.width)));
  return (
    <article className="page image-page">
      <figure className="image-figure">
        <img src={imageUrl(image.imageID, 'medium')} width={width} height={height} alt={altText(image)} fetchPriority="high" />
      </figure>
      <div className="image-details">
        <h1>{image.title.trim() || 'Untitled'}</h1>
        <p className="byline">
          by <Link to={`/artists/${encodeURIComponent(image.author)}`}>{image.author}</Link>
          {formatDate(image.created) ? <> · <time dateTime={image.created}>{formatDate(image.created)}</time></> : null}
        </p>
        {image.description ? <p className="description">{image.description}</p> : null}
        {image.tags.length > 0 ? (
          <ul className="tag-list" aria-label="Tags">
            {image.tags.map((tag) => (
              <li key={tag}>
                <Link className="tag" to={`/tags/${encodeURIComponent(tag)}`}>#{tag}</Link>
              </li>
            ))}
          </ul>
        ) : null}
        <div className="actions">
          {signedIn ? <LikeButton imageId={image.imageID} /> : (
            <p>
              ♥ {plural(image.likes, 'like')} · <Link to={`/login?next=${encodeURIComponent(`/images/${image.imageID}`)}`}>Log in to like it</Link>
            </p>
          )}
          <p className="original">
            <a href={imageUrl(image.imageID, 'raw')}>Open the original</a>{' '}
            <span className="muted">({image.width} × {image.height} pixels, {formatBytes(image.size)})</span>
          </p>
        </div>
        {isAuthor ? (
          editing ? <EditForm image={image} onDone={() => setEditing(false)} /> : (
            <div className="actions">
              <button type="button" className="button" onClick={() => setEditing(true)}>Edit</button>
              <DeleteButton image={image} />
            </div>
          )
        ) : null}
      </div>
    </article>
  );
}

function LikeButton({ imageId }: { imageId: string }) {
  const api = useApi();
  const state = useQuery(likeStateQuery(api, imageId));
  const toggle = useLikeToggle(imageId);
  if (state.isError) return <ErrorMessage error={state.error} title="Likes could not be loaded" onRetry={() => void state.refetch()} />;
  const liked = state.data?.liked ?? false;
  const likes = state.data?.likes ?? 0;
  return (
    <div>
      <button
        type="button"
        className={`button like${liked ? ' liked' : ''}`}
        aria-pressed={liked}
        disabled={!state.data}
        onClick={() => toggle.mutate(!liked)}
      >
        <span aria-hidden="true">{liked ? '♥' : '♡'}</span> {liked ? 'Liked' : 'Like'}
      </button>{' '}
      <span aria-live="polite">{plural(likes, 'like')}</span>
      {toggle.isError ? <ErrorMessage error={toggle.error} title="Your like was not saved" /> : null}
    </div>
  );
}

function EditForm({ image, onDone }: { image: PublicImage; onDone: () => void }) {
  const id = useId();
  const api = useApi();
  const limits = useQuery(limitsQuery(api));
  const edit = useEditImage(image.imageID);
  const [title, setTitle] = useState(image.title);
  const [description, setDescription] = useState(image.description);
  const [tags, setTags] = useState(image.tags.join(', '));
  const [problems, setProblems] = useState<Problem[]>([]);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const found = limits.data ? checkText({ title, description, tags }, limits.data as Limits) : [];
    setProblems(found);
    if (found.length > 0) return;
    edit.mutate({ title, description, tags: parseTags(tags) }, { onSuccess: onDone });
  };
  const problemFor = (field: Problem['field']) => problems.find((problem) => problem.field === field)?.message;

  return (
    <form className="form" onSubmit={submit} noValidate aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>Edit this image</h2>
      {edit.isError ? <ErrorMessage error={edit.error} title="Your changes were not saved" /> : null}
      <Field id={`${id}-title`} label="Title" problem={problemFor('title')}>
        <input ref={first} id={`${id}-title`} value={title} onChange={(event) => setTitle(event.target.value)} {...described(`${id}-title`, problemFor('title'))} />
      </Field>
      <Field id={`${id}-description`} label="Description" problem={problemFor('description')}>
        <textarea id={`${id}-description`} rows={4} value={description} onChange={(event) => setDescription(event.target.value)} {...described(`${id}-description`, problemFor('description'))} />
      </Field>
      <Field id={`${id}-tags`} label="Tags" hint="Separate tags with commas." problem={problemFor('tags')}>
        <TagCombobox id={`${id}-tags`} multiple value={tags} onValueChange={setTags} {...described(`${id}-tags`, problemFor('tags'), true)} />
      </Field>
      <div className="actions">
        <button type="submit" className="button primary" disabled={edit.isPending}>{edit.isPending ? 'Saving…' : 'Save changes'}</button>
        <button type="button" className="button" onClick={onDone}>Cancel</button>
      </div>
    </form>
  );
}

function DeleteButton({ image }: { image: PublicImage }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const remove = useDeleteImage(image.imageID);
  const navigate = useNavigate();
  const headingId = useId();
  return (
    <>
      <button type="button" className="button danger" onClick={() => dialog.current?.showModal()}>Delete</button>
      <dialog ref={dialog} aria-labelledby={headingId} className="dialog">
        <h2 id={headingId}>Delete “{image.title.trim() || 'Untitled'}”?</h2>
        <p>The image, its likes and its place in recommendations go for good. This cannot be undone.</p>
        {remove.isError ? <ErrorMessage error={remove.error} title="The image was not deleted" /> : null}
        <div className="actions">
          <button
            type="button"
            className="button danger"
            disabled={remove.isPending}
            onClick={() => remove.mutate(undefined, { onSuccess: () => navigate('/me', { state: { notice: `Deleted “${image.title.trim() || 'Untitled'}”.` } }) })}
          >
            {remove.isPending ? 'Deleting…' : 'Yes, delete it'}
          </button>
          <button type="button" className="button" onClick={() => dialog.current?.close()}>Keep it</button>
        </div>
      </dialog>
    </>
  );
}
