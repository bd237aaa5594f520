/** One SEARCH/REPLACE block of a proposal, addressed to a workspace-relative path. */
export interface FileEdit {
  path: string;
  search: string;
  replace: string;
}

/** How a SEARCH text was matched: exactly, ignoring trailing whitespace/CRLF, or ignoring indentation too. */
export type MatchMode = 'exact' | 'trailing-whitespace' | 'indentation';

/** Where a SEARCH text was found: 0-based line range [startLine, endLine). */
export interface Located {
  /** Character offsets of the matched region in the file content: [start, end). */
  start: number;
  end: number;
  startLine: number;
  endLine: number;
  /** How the match was made (absent means exact). */
  mode?: MatchMode;
  /** True when the region covers whole lines (the line-wise stages); its end excludes the final line break. */
  wholeLines?: boolean;
  /** With `mode: 'indentation'`: the common indentation of the SEARCH lines and of the matched file lines. */
  searchIndent?: string;
  fileIndent?: string;
}
