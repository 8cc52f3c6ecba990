import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { ErrorMessage } from '../../components/error-message';
import { InfiniteImages } from '../../components/infinite-images';
import { usePageTitle } from '../../components/page-title';
import { TagCombobox } from '../../components/tag-combobox';
import { useApi } from '../../lib/api-context';
import { plural } from '../../lib/format';
import { tagsQuery } from '../../lib/queries';

// Tags: a search with suggestions and the most used tags (/tags), and one tag's images (/tags/:tag).

export function TagsPage() {
  usePageTitle('Tags');
  const api = useApi();
  const navigate = useNavigate();
  const [search, setSearch] = useState('');
  const popular = useQuery(tagsQuery(api, ''));
  const go = (tag: string) => {
    const clean = tag.trim().toLowerCase();
    if (clean) void navigate(`/tags/${encodeURIComponent(clean)}`);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    go(search);
  };
  return (
    <section className="page">
      <h1>Tags</h1>
      <form className="inline-form" role="search" onSubmit={submit}>
        <label htmlFor="tag-search">Find a tag</label>
        <TagCombobox id="tag-search" value={search} onValueChange={setSearch} onTagChosen={go} placeholder="e.g. watercolor" />
        <button type="submit" className="button">Show images</button>
      </form>
      <h2>Most used</h2>
      {popular.isPending ? <p className="muted" role="status">Loading…</p> : null}
      {popular.isError ? <ErrorMessage error={popular.error} title="Tags could not be loaded" onRetry={() => void popular.refetch()} /> : null}
      {popular.data && popular.data.length === 0 ? <p className="empty">No tags yet.</p> : null}
      {popular.data && popular.data.length > 0 ? (
        <ul className="tag-list" aria-label="Most used tags">
          {popular.data.map((entry) => (
            <li key={entry.tag}>
              <Link className="tag" to={`/tags/${encodeURIComponent(entry.tag)}`}>
                #{entry.tag} <span className="muted">({plural(entry.count, 'image')})</span>
              </Link>
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

export function TagPage() {
  const tag = (useParams().tag ?? '').toLowerCase();
  usePageTitle(`#${tag}`);
  return (
    <section className="page">
      <h1>#{tag}</h1>
      <p className="muted">
        Images tagged “{tag}”. <Link to="/tags">All tags</Link>
      </p>
      <InfiniteImages filter={{ tag }} label={`Images tagged ${tag}`} eagerFirst empty={<p>No images carry this tag yet.</p>} />
    </section>
  );
}
