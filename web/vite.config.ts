import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The web app, built into web/dist and served by the gateway under /app/. `npm run dev:web`
// serves it with hot reload and sends every API call to a running cluster (make start).

const api = process.env.EASEL_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: import.meta.dirname,
  base: '/app/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Small, separately cached vendor chunk: React changes less often than the app.
    rolldownOptions: {
      output: {
        codeSplitting: { groups: [{ name: 'react', test: /node_modules[\\/](react|react-dom|scheduler)[\\/]/ }] },
      },
    },
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    // Every path outside /app/ is the API. The Host header stays the dev server's, so the
    // gateway's cross-site check sees the page's own origin.
    proxy: { '^/(?!app(/|$)).*': { target: api, changeOrigin: false } },
  },
});
