/**
 * Vite build of the web UI into `dist/`, which the server serves at `/` (packages/server/src/http/home.ts).
 * Type checking is done by the root `tsc -b` (this package is a project reference), not by Vite.
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Served by our own server with a strict CSP: no inline module-preload polyfill.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1024,
  },
  server: {
    // `npm run dev -w @logsrv/web` against a server on the default port.
    proxy: { '/v1': 'http://127.0.0.1:7070', '/healthz': 'http://127.0.0.1:7070', '/metrics': 'http://127.0.0.1:7070' },
  },
});
