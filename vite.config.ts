// Vite serves the editor; shaders/ and models/ are read as static files by the engine at run time.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  server: { fs: { allow: ['.'] } },
  build: { target: 'es2022' },
});
