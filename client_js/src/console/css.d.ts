// Stylesheets imported as text (esbuild's "text" loader in build.mjs).
declare module "*.css" {
  const text: string;
  export default text;
}
