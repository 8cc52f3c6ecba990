// Whether a process (or a whole process group) still exists, in one place: signal 0 checks
// without delivering anything. EPERM means it exists but belongs to another user (a PostgreSQL
// node run as "postgres" by a root launcher): that is alive too.

/** True while process `pid` exists; with `{ group: true }`, while any process of group `pid` does. */
export function processAlive(pid: number, options: { group?: boolean } = {}): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(options.group ? -pid : pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
