import { access, chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runToCompletion } from './managed-process.js';

export interface CertFiles {
  cert: string;
  key: string;
}

/**
 * A self-signed certificate for localhost/127.0.0.1, made once per work dir with openssl, so the
 * native cluster can serve https like a real deployment (the app marks its cookie Secure there).
 * Browsers will warn about it; `curl -k` and the tests accept it knowingly.
 */
export async function ensureSelfSignedCert(dir: string): Promise<CertFiles> {
  const files = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  const exists = await Promise.all([access(files.cert), access(files.key)]).then(
    () => true,
    () => false,
  );
  if (exists) return files;
  await mkdir(dir, { recursive: true });
  await runToCompletion(
    {
      name: 'openssl',
      command: 'openssl',
      args: [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '365'],
        ...['-keyout', files.key, '-out', files.cert, '-subj', '/CN=localhost'],
        ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      ],
      logFile: join(dir, 'openssl.log'),
    },
    30_000,
  );
  // nginx workers run as "nobody" when we are root; they read the files after the master did.
  await chmod(files.key, 0o644);
  return files;
}
