/**
 * Framework's reactive `width` can be 0 for a moment before the page has laid out (seen under load in the browser
 * tests). A component draws at least this wide instead of computing negative sizes (an SVG <rect> with a negative
 * width is a console error) or throwing; the next `width` redraws it at the real size.
 */
export const MIN_FIGURE_WIDTH = 280;

export function usableWidth(width: number): number {
  return Number.isFinite(width) ? Math.max(width, MIN_FIGURE_WIDTH) : MIN_FIGURE_WIDTH;
}
