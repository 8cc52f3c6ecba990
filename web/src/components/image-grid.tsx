import { Link } from 'react-router';
import type { PublicImage } from '../lib/api-types';
import { imageUrl, variantSides, variantWidth } from '../lib/queries';
import { plural } from '../lib/format';

// Thumbnails in a responsive grid. Each image states its size, so nothing moves while it loads;
// the browser picks the thumb or the medium variant for the space and the screen (srcset).

export function altText(image: Pick<PublicImage, 'title' | 'author'>): string {
  return image.title.trim() ? image.title : `Untitled image by ${image.author}`;
}

export function ImageCard({ image, eager = false }: { image: PublicImage; eager?: boolean }) {
  const thumbWidth = variantWidth(image, variantSides.thumb);
  const mediumWidth = variantWidth(image, variantSides.medium);
  const thumbHeight = Math.max(1, Math.round((image.height * thumbWidth) / Math.max(1, image.width)));
  return (
    <li className="card">
      <Link to={`/images/${image.imageID}`} className="card-link">
        <span className="card-frame">
          <img
            src={imageUrl(image.imageID, 'thumb')}
            srcSet={`${imageUrl(image.imageID, 'thumb')} ${thumbWidth}w, ${imageUrl(image.imageID, 'medium')} ${mediumWidth}w`}
            sizes="(max-width: 480px) 46vw, (max-width: 960px) 30vw, 240px"
            width={thumbWidth}
            height={thumbHeight}
            alt={altText(image)}
            loading={eager ? 'eager' : 'lazy'}
            fetchPriority={eager ? 'high' : 'auto'}
            decoding="async"
          />
        </span>
        <span className="card-title">{image.title.trim() || 'Untitled'}</span>
      </Link>
      <span className="card-meta">
        by <Link to={`/artists/${encodeURIComponent(image.author)}`}>{image.author}</Link>
        <span aria-label={plural(image.likes, 'like')}> · ♥ {image.likes}</span>
      </span>
    </li>
  );
}

export function ImageGrid({ images, eagerFirst = false, label }: { images: readonly PublicImage[]; eagerFirst?: boolean; label: string }) {
  return (
    <ul className="grid" aria-label={label}>
      {images.map((image, index) => (
        <ImageCard key={image.imageID} image={image} eager={eagerFirst && index < 4} />
      ))}
    </ul>
  );
}
