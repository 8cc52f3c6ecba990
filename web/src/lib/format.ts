// Numbers and dates as people read them.

export function formatBytes(bytes: number, digits = 1): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? digits : digits - 1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(digits).replace(/\.0+$/, '')} MB`;
}

/** Two sizes in words that differ visibly (1.46 MB against 1.43 MB, not 1.4 MB against 1.4 MB). */
export function formatBytesApart(size: number, limit: number): [string, string] {
  for (let digits = 1; digits < 4; digits++) {
    const pair: [string, string] = [formatBytes(size, digits), formatBytes(limit, digits)];
    if (pair[0] !== pair[1]) return pair;
  }
  return [`${size} bytes`, `${limit} bytes`];
}

export function formatMegapixels(pixels: number): string {
  return `${(pixels / 1_000_000).toFixed(1).replace(/\.0$/, '')} megapixels`;
}

export function formatDate(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : date.toLocaleDateString(undefined, { year: 'numeric', month: 'long', day: 'numeric' });
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
