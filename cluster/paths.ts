import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The project root, from cluster/ (tests, ts sources) and from dist/tools/cluster/ (the CLI) alike. */
export const PROJECT_ROOT = here.includes(`${sep}dist${sep}tools${sep}`)
  ? join(here, '..', '..', '..')
  : join(here, '..');
