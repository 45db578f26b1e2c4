import { describe, expect, it } from '@jest/globals';
import { localPath } from './page-locals.middleware.js';

describe('localPath', () => {
  it('keeps a path on this site', () => {
    expect(localPath('/sessions?revoked=1')).toBe('/sessions?revoked=1');
  });

  it.each([
    ['another site', 'https://evil.example/'],
    ['a protocol-relative URL', '//evil.example/'],
    ['a backslash trick', '/\\evil.example'],
    ['not a string', ['/profile']],
  ])('falls back for %s', (_, next) => {
    expect(localPath(next)).toBe('/profile');
  });

  it('falls back for a target too long to be a Location header behind nginx (it answered 502)', () => {
    expect(localPath(`/sessions?${'x'.repeat(5_000)}`)).toBe('/profile');
  });
});
