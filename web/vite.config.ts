import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// The dashboard: built into web/dist, which the server serves (CLAWPORT_WEB_DIR).
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // noVNC uses top-level await.
    target: 'es2022',
    chunkSizeWarningLimit: 700,
  },
  server: { proxy: { '/api': { target: 'http://127.0.0.1:8080', ws: true } } },
})
