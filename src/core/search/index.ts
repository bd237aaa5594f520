export * from './searchTypes';
export * from './searchNodes';
export * from './searchPolicy';
export * from './combine';
