export async function noop(): Promise<number> {
  return 1;
}
