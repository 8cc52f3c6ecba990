// The gateway's answers as the app uses them (docs/openapi.json, generated from src/gateway/routes).

export interface PublicImage {
  imageID: string;
  author: string;
  title: string;
  description: string;
  size: number;
  type: string;
  width: number;
  height: number;
  tags: string[];
  likes: number;
  created: string;
}

export interface ImagePage {
  images: PublicImage[];
  nextCursor: string | null;
}

export interface Me {
  name: string;
  imageCount: number;
  quota: { used: number; limit: number };
}

export interface Limits {
  maxBytes: number;
  maxPixels: number;
  types: string[];
  maxTags: number;
  maxTitle: number;
  maxDescription: number;
}

export interface TagCount {
  tag: string;
  count: number;
}

export interface LikeState {
  liked: boolean;
  likes: number;
}
