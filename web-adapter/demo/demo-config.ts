/** What the demo page fetches from `/demo-config.json`: where its bucket is. */
export interface DemoConfig {
  /** `s3://bucket/prefix/`. */
  bucket: string;
  endpoint: string;
  region: string;
  forcePathStyle: boolean;
  credentials: { accessKeyId: string; secretAccessKey: string };
}
