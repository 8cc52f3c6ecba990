import { useParams } from 'react-router';
import { InfiniteImages } from '../../components/infinite-images';
import { usePageTitle } from '../../components/page-title';

/** An artist's gallery: their images, newest first. */
export function ArtistPage() {
  const name = useParams().name ?? '';
  usePageTitle(name);
  return (
    <section className="page">
      <h1>{name}</h1>
      <p className="muted">Gallery</p>
      <InfiniteImages filter={{ author: name }} label={`Images by ${name}`} eagerFirst empty={<p>{name} has not shared any images yet.</p>} />
    </section>
  );
}
