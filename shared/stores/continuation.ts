/**
 * Paged lists use keyset pagination: the continuation a client gets back is the row key of the last item it was
 * given (base64url), and the next page starts after it. A client hands tokens back, so they are decoded and checked
 * against the row-key shape of the list before they reach a filter: a bad token is the caller's error (400).
 */
export function continuationAfter(rowKey: string): string {
  return Buffer.from(rowKey, 'utf8').toString('base64url');
}

/** The row key a token stands for, or undefined when it is not a token of a list whose keys match `rowKey`. */
export function rowKeyOf(token: string, rowKey: RegExp): string | undefined {
  if (token.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const decoded = Buffer.from(token, 'base64url').toString('utf8');
  return rowKey.test(decoded) ? decoded : undefined;
}
