import type { OutputFormat } from '../config/configTypes';
import { AutoresearchParser } from './autoresearchOutput';
import { parseRatchetLine } from './ratchetOutput';
import type { ParsedLine } from './runTypes';

/** Turns one line of a trainer's stdout into a point, an eval, a final or log. */
export interface OutputParser {
  parseLine(line: string): ParsedLine;
}

/** A fresh parser for one run (the autoresearch one is stateful). */
export function createOutputParser(format: OutputFormat): OutputParser {
  switch (format) {
    case 'autoresearch':
      return new AutoresearchParser();
    case 'ratchet':
      return { parseLine: parseRatchetLine };
    default: {
      const never: never = format;
      throw new Error(`unknown output format: ${String(never)}`);
    }
  }
}
