/**
 * The built modules benches drive (their own imports resolve only once compiled), typed from
 * their sources. `npx tsc -p tsconfig.build.json` first.
 */
export const dist = (m: string) => `../dist/${m}.js`
export const { loadConfig } = (await import(dist('config'))) as typeof import('../src/config.ts')
export const { createLogger } = (await import(dist('log'))) as typeof import('../src/log.ts')
export const { LocalDriver } = (await import(
  dist('drivers/local/local-driver')
)) as typeof import('../src/drivers/local/local-driver.ts')
