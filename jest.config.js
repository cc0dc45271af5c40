// Jest runs the TypeScript tests as ES modules, compiled by SWC (type checking
// is `npm run typecheck`). Two workers: the machines have two cores.
export default {
  testEnvironment: "node",
  extensionsToTreatAsEsm: [".ts"],
  transform: {
    "^.+\\.ts$": [
      "@swc/jest",
      {
        jsc: { parser: { syntax: "typescript" }, target: "es2022" },
        module: { type: "es6" },
        sourceMaps: "inline",
      },
    ],
  },
  // Sources import siblings as "./x.js" (NodeNext); map them back to the .ts files.
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  testMatch: ["<rootDir>/test/**/*.test.ts"],
  maxWorkers: 2,
  // Most tests start servers, some several node processes: on a busy 2-core machine a minute is not a hang.
  testTimeout: 60000,
};
