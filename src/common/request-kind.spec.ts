import { describe, expect, it } from '@jest/globals';
import { isJsonPath } from './request-kind.js';

describe('isJsonPath', () => {
  it.each([
    ['/api', true],
    ['/api?x=1', true],
    ['/api/', true],
    ['/api/whoami', true],
    ['/api/whoami?next=/login', true],
    ['/health/ready', true],
    ['/health/', true],
    ['/apix', false],
    ['/apis/x', false],
    ['/health', false],
    ['/health?x=/', false],
    ['/login?next=/api/whoami', false],
    ['/', false],
    ['/static/app.js', false],
  ])('%s -> %p', (url, json) => {
    expect(isJsonPath(url)).toBe(json);
  });
});
