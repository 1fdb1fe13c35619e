import type { Session } from './api.js';

/** What a page gets from the shell. */
export interface PageContext {
  session: Session | null;
  /**
   * Runs `task` now and then `everyMs` after each run ends, until the page is left (live views update without a
   * reload). A failing run shows its error in the page's banner; the next run clears it.
   */
  poll(task: () => Promise<void>, everyMs: number): void;
  /** Shows an error at the top of the page (an ApiError's code and message). */
  showError(error: unknown): void;
  clearError(): void;
  /** Navigates to a portal hash route (`#/c/demo`). */
  go(hash: string): void;
  /** Whether the user has left this page (a late answer then changes nothing). */
  left(): boolean;
}

/** A page: its element, built from the route's parameters. */
export type Page = (context: PageContext, params: string[]) => HTMLElement;
