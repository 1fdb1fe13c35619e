import { ApiError, loadSession, type Session } from './api.js';
import { fill, h } from './dom.js';
import type { Page, PageContext } from './page.js';
import { auditPage } from './pages/audit.js';
import { clusterPage } from './pages/cluster.js';
import { drillsPage } from './pages/drills.js';
import { failoverPage, makeActivePage } from './pages/makeActive.js';
import { operationPage, operationsPage } from './pages/operation.js';
import { overviewPage } from './pages/overview.js';
import { poolPage } from './pages/pool.js';

/** Hash routes: `#/`, `#/c/<cluster>`, `#/c/<cluster>/make-active`, … (the server serves one page). */
const ROUTES: [RegExp, Page][] = [
  [/^\/?$/, overviewPage],
  [/^\/c\/([^/]+)$/, clusterPage],
  [/^\/c\/([^/]+)\/make-active$/, makeActivePage],
  [/^\/c\/([^/]+)\/failover$/, failoverPage],
  [/^\/c\/([^/]+)\/operations$/, operationsPage],
  [/^\/c\/([^/]+)\/operations\/([^/]+)$/, operationPage],
  [/^\/c\/([^/]+)\/audit$/, auditPage],
  [/^\/c\/([^/]+)\/drills$/, drillsPage],
  [/^\/c\/([^/]+)\/pools\/([^/]+)$/, poolPage],
];

const here = () => `${location.pathname}${location.search}${location.hash}`;
const signInUrl = () => `/.auth/login?post_login_redirect_uri=${encodeURIComponent(here())}`;
const signOutUrl = () => `/.auth/logout?post_logout_redirect_uri=${encodeURIComponent(location.pathname)}`;

function header(session: Session | null): HTMLElement {
  return h(
    'header',
    { class: 'top' },
    h('a', { href: '#/', class: 'brand' }, 'failover-plane'),
    h(
      'div',
      { class: 'who' },
      session
        ? [
            h('span', { id: 'user' }, session.name),
            ' ',
            h('span', { id: 'role', class: 'badge neutral' }, session.role ?? 'no role'),
            ' ',
            h('a', { href: signOutUrl(), id: 'sign-out' }, 'Sign out'),
          ]
        : h('a', { href: signInUrl(), id: 'sign-in', class: 'button primary' }, 'Sign in'),
    ),
  );
}

function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401)
      return 'You are not signed in (or your session ended): sign in to see the clusters.';
    if (error.status === 403) return `Your role does not allow this: ${error.message}`;
    return `${error.code}: ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

async function start(): Promise<void> {
  const app = document.getElementById('app');
  if (!app) return;
  const session = await loadSession().catch(() => null);
  const banner = h('div', { id: 'error', class: 'error-banner', role: 'alert', hidden: true });
  const main = h('main', { id: 'main', tabindex: -1 });
  fill(app, header(session), banner, main);

  let generation = 0;
  const timers = new Set<number>();

  const render = () => {
    generation++;
    const mine = generation;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    banner.hidden = true;
    const path = decodeURIComponent(location.hash.replace(/^#/, '')) || '/';
    const route = ROUTES.map(([re, page]) => [re.exec(path), page] as const).find(([m]) => m);
    const context: PageContext = {
      session,
      left: () => generation !== mine,
      showError(error) {
        if (generation !== mine) return;
        fill(
          banner,
          errorText(error),
          error instanceof ApiError && error.status === 401
            ? [' ', h('a', { href: signInUrl() }, 'Sign in')]
            : null,
        );
        banner.hidden = false;
      },
      clearError() {
        if (generation === mine) banner.hidden = true;
      },
      go(hash) {
        location.hash = hash;
      },
      poll(task, everyMs) {
        const run = () => {
          if (generation !== mine) return;
          task()
            .then(() => context.clearError())
            .catch((error: unknown) => context.showError(error))
            .finally(() => {
              if (generation === mine) timers.add(window.setTimeout(run, everyMs));
            });
        };
        run();
      },
    };
    if (!session) {
      fill(
        main,
        h(
          'section',
          { class: 'signin' },
          h('h1', {}, 'Operator portal'),
          h(
            'p',
            {},
            'Sign in to see the clusters and act on them. What you can do depends on your role: viewer, operator or admin.',
          ),
          h('p', {}, h('a', { href: signInUrl(), class: 'button primary' }, 'Sign in')),
        ),
      );
      return;
    }
    if (!route) {
      fill(
        main,
        h(
          'section',
          {},
          h('h1', {}, 'Not found'),
          h('p', {}, h('a', { href: '#/' }, 'Back to the clusters')),
        ),
      );
      return;
    }
    const [match, page] = route;
    fill(main, page(context, (match ?? []).slice(1)));
    document.title = `${main.querySelector('h1')?.textContent ?? 'Portal'} · failover-plane`;
  };
  window.addEventListener('hashchange', () => {
    render();
    main.focus();
  });
  render();
}

void start();
