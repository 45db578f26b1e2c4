/**
 * A short description of a client for the session list ("Chrome 156 on Linux"), instead of the
 * raw User-Agent: that is 100-200 bytes per session for nothing a person reads, in a store that
 * holds every session in memory.
 */
const BROWSERS: Array<[RegExp, string]> = [
  [/Edg\/(\d+)/, 'Edge'],
  [/OPR\/(\d+)/, 'Opera'],
  [/Firefox\/(\d+)/, 'Firefox'],
  [/Chrom(?:e|ium)\/(\d+)/, 'Chrome'],
  [/Version\/(\d+)[\d.]* .*Safari\//, 'Safari'],
  [/^curl\/([\d.]+)/, 'curl'],
];
const SYSTEMS: Array<[RegExp, string]> = [
  [/Android/, 'Android'],
  [/iPhone|iPad|iOS/, 'iOS'],
  [/Windows/, 'Windows'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/CrOS/, 'ChromeOS'],
  [/Linux/, 'Linux'],
];

export function describeDevice(userAgent: string | undefined): string {
  const ua = (userAgent ?? '').trim();
  if (!ua) return 'unknown';
  const label = browserOf(ua);
  if (!label) return ua.replace(/[^\x20-\x7e]/g, '').slice(0, 40) || 'unknown';
  const system = SYSTEMS.find(([re]) => re.test(ua))?.[1];
  return system ? `${label} on ${system}` : label;
}

/** The first browser that matches, with its version (every pattern captures one). */
function browserOf(ua: string): string | undefined {
  for (const [re, name] of BROWSERS) {
    const version = re.exec(ua)?.[1];
    if (version !== undefined) return `${name} ${version}`;
  }
  return undefined;
}
