// Minimal types for the `hashring` package (the benchmark peer; it ships none).
declare module "hashring" {
  export default class HashRing {
    constructor(
      servers: string[] | Record<string, unknown>,
      algorithm?: string,
      options?: Record<string, unknown>,
    );
    get(key: string): string;
    add(servers: string | string[]): this;
    remove(server: string): this;
  }
}
