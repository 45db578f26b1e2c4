import { describe, expect, it } from '@jest/globals';
import { NetworkModeError } from './errors.js';
import { assertNetworkModeAllowed } from './namespaces.js';

describe('the network mode', () => {
  it('refuses without root, saying why', () => {
    expect(() => {
      assertNetworkModeAllowed(1000);
    }).toThrow(NetworkModeError);
    expect(() => {
      assertNetworkModeAllowed(1000);
    }).toThrow(/needs root/);
    expect(() => {
      assertNetworkModeAllowed(0);
    }).not.toThrow();
  });
});
