export * from './users';
export * from './projects';
export * from './content';
export * from './annotation';
export * from './exports';
export * from './models';
export * from './live';
export * from './enums';
