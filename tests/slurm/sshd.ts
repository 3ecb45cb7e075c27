import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { findFreePort } from '@/db/embedded';

/**
 * A real OpenSSH server on 127.0.0.1 for the tests: a host key and an authorized client key made
 * for the test, its own config and port, in the foreground (-D) so it ends with the test. It
 * stands for a cluster's login node. Needs root (sshd switches to the logged-in user).
 */
export interface TSshServer {
  port: number;
  user: string;
  /** The client's private key, and a known_hosts file that holds the server's key. */
  clientKey: string;
  knownHosts: string;
  /** A known_hosts file that holds some other key for the same address (a host key that changed). */
  wrongKnownHosts: string;
  stop(): Promise<void>;
}

export function sshdUnavailable(): string | null {
  if (!fs.existsSync('/usr/sbin/sshd')) return 'OpenSSH server is not installed: apt-get install -y openssh-server';
  if (process.getuid?.() !== 0) return 'the test SSH server needs root';
  return null;
}

function keygen(file: string, comment: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  return fs.readFileSync(`${file}.pub`, 'utf8').trim();
}

export async function startSshServer(dir: string): Promise<TSshServer> {
  const why = sshdUnavailable();
  if (why) throw new Error(why);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // sshd's privilege separation folder (Debian's package makes it at boot).
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = path.join(dir, 'host_ed25519');
  const hostPublic = keygen(hostKey, 'pairwise-test-host');
  const clientKey = path.join(dir, 'client_ed25519');
  const clientPublic = keygen(clientKey, 'pairwise-test-client');
  const otherHost = keygen(path.join(dir, 'other_host_ed25519'), 'someone-else');
  const authorized = path.join(dir, 'authorized_keys');
  fs.writeFileSync(authorized, `${clientPublic}\n`, { mode: 0o600 });
  const port = await findFreePort();
  const [type, key] = hostPublic.split(' ');
  const knownHosts = path.join(dir, 'known_hosts');
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${port} ${type} ${key}\n`);
  const wrongKnownHosts = path.join(dir, 'known_hosts_wrong');
  fs.writeFileSync(wrongKnownHosts, `[127.0.0.1]:${port} ${otherHost.split(' ').slice(0, 2).join(' ')}\n`);
  const config = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorized}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PrintMotd no',
      'AcceptEnv LANG',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sshd did not start: ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port,
    user: os.userInfo().username,
    clientKey,
    knownHosts,
    wrongKnownHosts,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}
