/**
 * The value a run's final result holds for `name`: its own key only, never one inherited from
 * Object.prototype (a metric named `constructor` or `toString` is looked up like any other).
 */
export function finalValue(final: Readonly<Record<string, number>> | null | undefined, name: string): number | undefined {
  return final != null && Object.hasOwn(final, name) ? final[name] : undefined;
}
