/**
 * A self-signed certificate for localhost/127.0.0.1, so the cluster can serve https like a real
 * deployment (the app marks its cookie Secure there). Browsers warn about it; `curl -k` and the
 * tests accept it knowingly. Made with node-forge, in-process: the native runner and compose's
 * `tls-cert` container (`node dist/tools/cluster/tls.js /tls`, in the app image) run this same
 * code, and neither needs an openssl binary.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { access, chmod, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import forge from 'node-forge';

export interface CertFiles {
  cert: string;
  key: string;
}

/** cert.pem and key.pem in `dir`: made once, kept when both are there. */
export async function ensureSelfSignedCert(dir: string): Promise<CertFiles> {
  const files = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  const exists = await Promise.all([access(files.cert), access(files.key)]).then(
    () => true,
    () => false,
  );
  if (exists) return files;
  await mkdir(dir, { recursive: true });
  const { cert, key } = selfSignedCert();
  await writeFile(files.key, key, { mode: 0o600 });
  await writeFile(files.cert, cert);
  // nginx workers run as "nobody" when we are root; they read the files after the master did.
  await chmod(files.key, 0o644);
  return files;
}

/** PEM certificate and key: RSA 2048, SHA-256, one year, CN=localhost, SAN localhost + 127.0.0.1. */
export function selfSignedCert(now = new Date()): { cert: string; key: string } {
  // Node makes the key (native, fast); forge only builds and signs the certificate.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' });
  const key = forge.pki.privateKeyFromPem(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  // A positive serial: the high bit of the first byte clear.
  cert.serialNumber =
    (randomBytes(1).readUInt8() & 0x7f).toString(16).padStart(2, '0') +
    randomBytes(15).toString('hex');
  cert.validity.notBefore = now;
  cert.validity.notAfter = new Date(now.getTime() + 365 * 24 * 60 * 60 * 1000);
  const subject = [{ name: 'commonName', value: 'localhost' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' }, // dNSName
        { type: 7, ip: '127.0.0.1' }, // iPAddress
      ],
    },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keyPem };
}

// `node dist/tools/cluster/tls.js <dir>`: what compose's tls-cert container runs.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node dist/tools/cluster/tls.js <dir>');
    process.exit(2);
  }
  ensureSelfSignedCert(dir).then(
    (files) => {
      console.log(`certificate: ${files.cert}, key: ${files.key}`);
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
