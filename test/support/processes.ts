import { readFileSync } from 'node:fs';

/**
 * Whether process `pid` still runs. A zombie (dead, not yet reaped: in a container whose init does
 * not reap, an orphan stays one) counts as gone: it runs nothing and holds nothing but its pid.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // `pid (comm) S ...`: the state follows the last ')' (comm may itself hold parentheses).
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
