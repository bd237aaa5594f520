export * from './searchTypes';
export * from './searchNodes';
export * from './searchPolicy';
