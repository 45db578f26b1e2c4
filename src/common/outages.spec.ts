import { describe, expect, it } from '@jest/globals';
import { ServiceUnavailableException } from '@nestjs/common';
import { backendUnavailable, Outages, type OutageClassifier } from './outages.js';

class StoreDown extends Error {}
class DatabaseDown extends Error {}
const classifier = (backend: string, cls: new () => Error): OutageClassifier => ({
  backend,
  isOutage: (err) => err instanceof cls,
});

describe('Outages', () => {
  const outages = new Outages([
    classifier('session store', StoreDown),
    classifier('database', DatabaseDown),
  ]);

  it('names the backend whose classifier claims the error', () => {
    expect(outages.of(new StoreDown())).toBe('session store');
    expect(outages.of(new DatabaseDown())).toBe('database');
  });

  it('asks the classifiers in order: the first that claims an error names it', () => {
    const both = new Outages([classifier('first', Error), classifier('second', Error)]);
    expect(both.of(new Error('x'))).toBe('first');
  });

  it.each([
    ['a plain Error', new Error('boom')],
    ['a string', 'ECONNREFUSED'],
    ['null', null],
    ['undefined', undefined],
  ])('says undefined for %s', (_, err) => {
    expect(outages.of(err)).toBeUndefined();
  });

  it('turns an outage into a 503 that names the backend', () => {
    const mapped = outages.asHttp(new StoreDown());

    expect(mapped).toBeInstanceOf(ServiceUnavailableException);
    expect((mapped as ServiceUnavailableException).message).toContain(
      'session store is unavailable',
    );
  });

  it('passes any other error through as the same object', () => {
    const err = new Error('boom');
    expect(outages.asHttp(err)).toBe(err);
  });
});

describe('backendUnavailable', () => {
  it('is a 503 that names the backend', () => {
    const err = backendUnavailable('database');

    expect(err.getStatus()).toBe(503);
    expect(err.message).toBe(
      'The database is unavailable right now. Please try again in a moment.',
    );
  });
});
