/**
 * What the benchmark's charts share: plain SVG written by hand (no dependencies, readable in any
 * browser and on GitHub), one style sheet, one escape.
 */
export const escape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export const STYLE = `<style>
    .title { font-size: 15px; font-weight: 600; fill: #222; }
    .name { font-size: 13px; text-anchor: end; fill: #222; }
    .head { font-size: 12px; text-anchor: middle; fill: #222; font-weight: 600; }
    .value { font-size: 12px; fill: #444; }
    .cell { font-size: 11px; text-anchor: middle; fill: #111; }
    .tick { font-size: 11px; text-anchor: middle; fill: #555; }
    .note { font-size: 11px; fill: #666; }
    .axis { stroke: #888; stroke-width: 1; }
    .grid { stroke: #e4e4e4; stroke-width: 1; }
  </style>`;

/** An <svg> document of the given size with the shared style and a white background. */
export function svgDocument(width: number, height: number, body: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif">
  ${STYLE}
  <rect width="100%" height="100%" fill="#fff"/>
  ${body.join('\n  ')}
</svg>
`;
}

/** Ten colours that stay apart from each other (one per profile in a line chart). */
export const PALETTE = [
  '#2f6fb0',
  '#d4572a',
  '#3a9a4a',
  '#8a4fb0',
  '#c9a227',
  '#1f9e9e',
  '#b0306f',
  '#6b6b6b',
  '#7a5a2f',
  '#4a5fd0',
];
