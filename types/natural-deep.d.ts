// natural's entry point pulls in storage back-ends that load dotenv and print to stdout on import;
// the classifier imports only the two modules it needs.
declare module 'natural/lib/natural/stemmers/porter_stemmer.js' {
  const PorterStemmer: { stem(token: string): string };
  export default PorterStemmer;
}
declare module 'natural/lib/natural/tokenizers/regexp_tokenizer.js' {
  export class WordTokenizer {
    tokenize(text: string): string[];
  }
}
