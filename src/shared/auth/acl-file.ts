// Mosquitto's `acl_file` syntax, read the way Mosquitto 2.0 reads it (src/security_default.c,
// aclfile__parse), so a file Mosquitto refuses is refused here too, with the line number:
//
//   # comment                      only '#' in the first column; blank lines are skipped
//   topic [read|write|readwrite|deny] FILTER     rules of the current section
//   user NAME                      starts a user's section (the name may contain spaces)
//   pattern [read|write|readwrite|deny] FILTER   rules for every client, with %c and %u
//
// Words are separated by spaces only (a tab makes the line invalid, as in Mosquitto), trailing
// white space is dropped, and the FILTER is the rest of the line, trimmed, so it may contain
// spaces. Without an access word the rule is readwrite; `topic read` alone is therefore the
// readwrite rule for the topic "read", a Mosquitto quirk kept on purpose. Rules before the
// first `user` line form the anonymous section (clients without a user name). Two `user` lines
// with the same name add to one section.
import { ErrorCode, ShoalError } from '../errors.ts';
import { validateTopicFilter } from '../topics/validate.ts';
import { readSecurityFile } from './files.ts';

/** Access bits, as Mosquitto's MOSQ_ACL_READ / MOSQ_ACL_WRITE; 0 is a `deny` rule. */
export const Access = { DENY: 0, READ: 1, WRITE: 2, READWRITE: 3 } as const;

export interface AclRule {
  filter: string;
  /** Access.* bits; 0 = deny */
  access: number;
  /** 1-based line in the file */
  line: number;
}

export interface AclFileData {
  /** rules before the first `user` line (clients without a user name) */
  anonymous: AclRule[];
  /** rules per user name, in file order */
  users: Map<string, AclRule[]>;
  /** `pattern` rules, in file order, %c / %u not yet substituted */
  patterns: AclRule[];
  /** accepted with a caveat (a pattern without %c or %u, as Mosquitto warns) */
  warnings: string[];
}

// Mosquitto's TOPIC_HIERARCHY_LIMIT: more '/' than this and the filter is invalid.
const MAX_LEVEL_SEPARATORS = 200;

const ACCESS_WORDS: Record<string, number> = { read: Access.READ, write: Access.WRITE, readwrite: Access.READWRITE, deny: Access.DENY };

function fail(at: string, why: string): never {
  throw new ShoalError(ErrorCode.ACL_FILE_INVALID, `${at}: ${why}`);
}

/** Parses an ACL file's text; throws SHOAL_ACL_FILE_INVALID naming file and line. */
export function parseAclFile(text: string, source = 'acl file'): AclFileData {
  const data: AclFileData = { anonymous: [], users: new Map(), patterns: [], warnings: [] };
  let section = data.anonymous;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\s+$/, '');
    if (line.startsWith('#')) continue;
    const at = `${source}:${i + 1}`;
    const body = line.replace(/^ +/, '');
    if (body === '') continue;
    const sp = body.indexOf(' ');
    const keyword = sp < 0 ? body : body.slice(0, sp);
    const rest = sp < 0 ? '' : body.slice(sp + 1).replace(/^ +/, '');
    if (keyword === 'user') {
      if (rest === '') fail(at, 'missing user name after `user`');
      section = data.users.get(rest) ?? [];
      data.users.set(rest, section);
      continue;
    }
    if (keyword !== 'topic' && keyword !== 'pattern') fail(at, `invalid line (expected user, topic or pattern): ${body}`);
    if (rest === '') fail(at, `empty topic after \`${keyword}\``);
    const sp2 = rest.indexOf(' ');
    let access: number = Access.READWRITE;
    let filter = rest;
    if (sp2 >= 0) {
      const word = rest.slice(0, sp2);
      const a = ACCESS_WORDS[word];
      if (a === undefined) fail(at, `invalid access type "${word}" (read, write, readwrite or deny)`);
      access = a;
      filter = rest.slice(sp2 + 1).trim();
    }
    const invalid = validateTopicFilter(filter);
    if (invalid !== null) fail(at, `invalid topic filter "${filter}" (${invalid})`);
    if (filter.split('/').length - 1 > MAX_LEVEL_SEPARATORS) fail(at, `invalid topic filter: more than ${MAX_LEVEL_SEPARATORS} levels`);
    const rule: AclRule = { filter, access, line: i + 1 };
    if (keyword === 'topic') {
      section.push(rule);
    } else {
      if (!filter.includes('%c') && !filter.includes('%u')) data.warnings.push(`${at}: pattern "${filter}" contains neither %c nor %u`);
      data.patterns.push(rule);
    }
  }
  return data;
}

/** Reads and parses an ACL file; an unreadable file is SHOAL_ACL_FILE_INVALID too. */
export function loadAclFile(path: string): AclFileData {
  return parseAclFile(readSecurityFile(path, ErrorCode.ACL_FILE_INVALID), path);
}
