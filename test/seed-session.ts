/**
 * The original retopy README's telnet session against the counter example: what is typed,
 * and what the server answers (null: no reply). One copy, for every test that replays it.
 */
export const SEED_SESSION: ReadonlyArray<readonly [line: string, reply: string | null]> = [
  ["header line", null],
  ["increment a", "1"],
  ["increment a", "2"],
  ["increment b", "1"],
  ["increment a", "3"],
  ["rem a", "+OK"],
  ["get a", "-ERR a Not found"],
];
