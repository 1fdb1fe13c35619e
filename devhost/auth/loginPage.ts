import type { LocalUser } from './localUsers';

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

/** The emulated sign-in page: one button per local user, posting to `/.auth/login/aad`. No script, nothing fetched. */
export function loginPage(users: readonly LocalUser[], redirect: string, message?: string): string {
  const buttons = users
    .map(
      (u) =>
        `<li><button type="submit" name="user" value="${escapeHtml(u.name)}">${escapeHtml(u.name)}</button>` +
        ` <span>${escapeHtml(u.roles.join(', ') || 'no role')}</span></li>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in (devhost)</title>
<style>body{font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}ul{list-style:none;padding:0}
li{margin:.5rem 0}button{font:inherit;padding:.4rem .8rem;min-width:16rem;text-align:left}span{color:#555}
.note{color:#555;font-size:.9rem}.error{color:#a00}</style></head>
<body><h1>Sign in</h1>
<p class="note">The devhost emulates App Service Authentication: choose a user (from the devhost's users.yaml).</p>
${message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/.auth/login/aad">
<input type="hidden" name="post_login_redirect_uri" value="${escapeHtml(redirect)}">
<ul>
${buttons}
</ul>
</form></body></html>
`;
}
