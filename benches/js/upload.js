// Uploads FILE to the tus creation URL ENDPOINT with tus-js-client's defaults (one PATCH).
// Usage: node upload.js ENDPOINT FILE
import fs from 'node:fs';
import * as tus from 'tus-js-client';

const [endpoint, file] = process.argv.slice(2);
const size = fs.statSync(file).size;
const upload = new tus.Upload(fs.createReadStream(file), {
  endpoint,
  uploadSize: size,
  metadata: { filename: 'bench.bin' },
  retryDelays: [],
  onError: (err) => {
    console.error('tus-js-client:', err.message);
    process.exit(1);
  },
  onSuccess: () => process.exit(0),
});
upload.start();
