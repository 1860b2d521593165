// Wix's own upload flow (its Resumable Upload guide), N files at a time: for each file
//   POST {apiBase}/site-media/v1/files/generate-resumable-upload-url  -> {uploadUrl, uploadToken}
//   tus-js-client to uploadUrl, metadata {filename, contentType, token}, Wix's retryDelays
//   PUT {uploadUrl}/{uploadToken}?filename=NAME  (finalize)            -> {file}
// Usage: node wix-batch.js API_BASE CONCURRENCY DIR
// Credentials from WIX_API_KEY and WIX_SITE_ID. Exits 1 on the first failure.
import fs from 'node:fs';
import path from 'node:path';
import * as tus from 'tus-js-client';

const [apiBase, concurrency, dir] = process.argv.slice(2);
const files = fs
  .readdirSync(dir)
  .filter((n) => !n.startsWith('.'))
  .sort()
  .map((n) => path.join(dir, n));
const rest = {
  Authorization: process.env.WIX_API_KEY ?? 'bench',
  'wix-site-id': process.env.WIX_SITE_ID ?? 'bench',
  'Content-Type': 'application/json',
};

async function uploadOne(file) {
  const size = fs.statSync(file).size;
  const filename = path.basename(file);
  const contentType = 'application/octet-stream';
  const gen = await fetch(`${apiBase}/site-media/v1/files/generate-resumable-upload-url`, {
    method: 'POST',
    headers: rest,
    body: JSON.stringify({ mimeType: contentType, fileName: filename, sizeInBytes: String(size) }),
  });
  if (!gen.ok) throw new Error(`generate: HTTP ${gen.status} ${await gen.text()}`);
  const { uploadUrl, uploadToken } = await gen.json();
  await new Promise((resolve, reject) => {
    const upload = new tus.Upload(fs.createReadStream(file), {
      endpoint: uploadUrl,
      uploadSize: size,
      metadata: { filename, contentType, token: uploadToken },
      retryDelays: [0, 3000, 5000, 10000, 20000],
      onError: reject,
      onSuccess: resolve,
    });
    upload.start();
  });
  const fin = await fetch(
    `${uploadUrl}/${uploadToken}?filename=${encodeURIComponent(filename)}`,
    { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{}' },
  );
  if (!fin.ok) throw new Error(`finalize: HTTP ${fin.status} ${await fin.text()}`);
  const { file: descriptor } = await fin.json();
  if (!descriptor?.id) throw new Error('finalize: no file in the answer');
}

let next = 0;
async function worker() {
  while (next < files.length) {
    const file = files[next++];
    await uploadOne(file);
  }
}

try {
  await Promise.all(Array.from({ length: Number(concurrency) }, worker));
} catch (err) {
  console.error('wix-batch:', err.message);
  process.exit(1);
}
