/**
 * Table Storage limits a string property to 64 KiB (UTF-16: 32,768 code units) and an entity to 1 MiB. A text longer
 * than one property is split across `<Name>`, `<Name>_1`, `<Name>_2`, … of at most `CHUNK_CHARS` code units each, so
 * a valid value is never refused by the store (a 500) for its size alone.
 */
export const CHUNK_CHARS = 32_000;
/** The longest text one entity holds this way (leaves room for the keys and other properties under 1 MiB). */
export const MAX_TEXT_CHARS = 15 * CHUNK_CHARS;

/** The properties that store `text` under `name`. Throws a RangeError above MAX_TEXT_CHARS (callers bound first). */
export function textProperties(name: string, text: string): Record<string, string> {
  if (text.length > MAX_TEXT_CHARS)
    throw new RangeError(`${name} is ${text.length} characters; at most ${MAX_TEXT_CHARS} can be stored`);
  const out: Record<string, string> = { [name]: '' };
  let start = 0;
  for (let part = 0; start < text.length; part++) {
    let end = Math.min(start + CHUNK_CHARS, text.length);
    // Never split a surrogate pair: each property must be valid UTF-16 on its own.
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    out[part === 0 ? name : `${name}_${part}`] = text.slice(start, end);
    start = end;
  }
  return out;
}

/** Reassembles a text stored by `textProperties`. */
export function readText(entity: Readonly<Record<string, unknown>>, name: string): string {
  let text = typeof entity[name] === 'string' ? entity[name] : '';
  for (let part = 1; typeof entity[`${name}_${part}`] === 'string'; part++)
    text += entity[`${name}_${part}`] as string;
  return text;
}

/**
 * JSON for storage, with every non-ASCII character escaped (`\uXXXX`): the stored text is ASCII, so a transfer
 * split at any byte boundary cannot corrupt a multi-byte character (Azurite was seen to mangle one at a 64 KiB
 * boundary), and its length in characters is its size in UTF-16 code units. `JSON.parse` reads it back unchanged.
 */
export function storedJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
