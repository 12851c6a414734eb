/** Display formatting of run fields (times, durations, numbers, sizes). */

export function formatTime(epochSeconds: number | null | undefined): string {
  if (epochSeconds === null || epochSeconds === undefined) {
    return '';
  }
  const d = new Date(epochSeconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** Compact form for table cells: `MM-DD HH:MM` this year, else `YYYY-MM-DD`. */
export function formatShortTime(epochSeconds: number | null | undefined): string {
  const full = formatTime(epochSeconds);
  if (!full) {
    return '';
  }
  const sameYear = new Date(epochSeconds! * 1000).getFullYear() === new Date().getFullYear();
  return sameYear ? full.slice(5, 16) : full.slice(0, 10);
}

export function formatDuration(
  start: number | null | undefined,
  end: number | null | undefined,
  now: number = Date.now() / 1000
): string {
  if (start === null || start === undefined) {
    return '';
  }
  let s = Math.max(0, (end ?? now) - start);
  if (s < 60) {
    return `${s.toFixed(1)}s`;
  }
  s = Math.round(s);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(sec).padStart(2, '0')}s`;
}

export function formatNumber(v: number | null | undefined): string {
  if (v === null || v === undefined) {
    return '';
  }
  if (!Number.isFinite(v)) {
    return String(v);
  }
  if (Number.isInteger(v) && Math.abs(v) < 1e9) {
    return String(v);
  }
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6)
    ? v.toExponential(3)
    : v.toPrecision(4).replace(/\.?0+$/, '');
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
