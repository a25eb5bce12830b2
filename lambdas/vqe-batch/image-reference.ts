/**
 * Docker's image reference grammar (distribution/reference), for the checks of batch.image and the
 * documents' image parameter, which accepts the configured repository only.
 *
 * SDK-free: the CDK app and the Lambdas both import it.
 */
/* [domain[:port]/]path[:tag][@digest] */
const DOMAIN_COMPONENT = '[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?';
const DOMAIN = `${DOMAIN_COMPONENT}(?:[.]${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const TAG = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}';
const DIGEST = 'sha256:[a-f0-9]{64}';
const IMAGE_REFERENCE = new RegExp(
  `^((?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);

export interface ImageReference {
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** The parts of an image reference, or undefined when it is not one (an option such as --privileged is not). */
export function parseImageReference(reference: string): ImageReference | undefined {
  const match = IMAGE_REFERENCE.exec(reference);
  if (!match || reference.length > 255 + 1 + 128 + 72) return undefined;
  const [, repository, tag, digest] = match;
  return { repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** Why `reference` is not an image reference, or undefined when it is one. */
export function imageReferenceProblem(reference: string): string | undefined {
  return parseImageReference(reference)
    ? undefined
    : 'expected an image reference [registry[:port]/]repository[:tag][@sha256:digest] (lower-case path, no leading -)';
}

/** The image parameter's pattern: the configured repository only, with any tag and/or digest. */
export function imageParameterPattern(image: string): string {
  const reference = parseImageReference(image);
  if (!reference) throw new RangeError(`image: ${imageReferenceProblem(image)}, got ${JSON.stringify(image)}`);
  const repository = reference.repository.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return `^${repository}(:${TAG})?(@${DIGEST})?$`;
}
