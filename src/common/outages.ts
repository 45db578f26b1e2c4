import { ServiceUnavailableException } from '@nestjs/common';

/**
 * Tells whether an error means one of the app's backends is unreachable right now. Each backend
 * knows its own driver's errors: the database (src/database/outage.ts) and the session backend
 * (its record's `isOutage`). Nothing here knows any driver.
 */
export interface OutageClassifier {
  /** How the 503 names it: "The <backend> is unavailable right now." */
  readonly backend: string;
  isOutage: (err: unknown) => boolean;
}

/** The classifiers of the running app, asked in order; provided by AppModule. */
export class Outages {
  constructor(private readonly classifiers: readonly OutageClassifier[]) {}

  /** The backend an error says is down, or undefined when it is some other error. */
  of(err: unknown): string | undefined {
    return this.classifiers.find((c) => c.isOutage(err))?.backend;
  }

  /** Turns a backend outage into a 503; passes every other error through unchanged. */
  asHttp(err: unknown): unknown {
    const backend = this.of(err);
    return backend ? backendUnavailable(backend) : err;
  }
}

export function backendUnavailable(backend: string): ServiceUnavailableException {
  return new ServiceUnavailableException(
    `The ${backend} is unavailable right now. Please try again in a moment.`,
  );
}
