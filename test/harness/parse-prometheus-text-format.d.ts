// The package ships no types: what the Prometheus test reads of its result.
declare module 'parse-prometheus-text-format' {
  const parse: (text: string) => { name: string; help: string; type: string; metrics: { labels?: Record<string, string>; value?: string }[] }[];
  export default parse;
}
