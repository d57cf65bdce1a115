/**
 * A self-signed certificate for 127.0.0.1 and localhost, made with the real `openssl` CLI
 * (installed by .ci/run) in a temp dir that is removed when the calling file's tests end.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";

export interface TestCertificate {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** The files themselves, for CLIs (`retopy serve --tls-cert`, `redis-cli --cacert`). */
  readonly certPath: string;
  readonly keyPath: string;
}

/** Makes the certificate now (~0.1 s) and registers the removal of its files. */
export function selfSignedCertificate(): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), "retopy-tls-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", certPath, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
    { stdio: "ignore", timeout: 20_000 },
  );
  return { cert: readFileSync(certPath), key: readFileSync(keyPath), certPath, keyPath };
}
