// The example app: runs the generated jet tagger on one event and prints the class probabilities.
#include <cstdio>

#include "jet_tagger.hxx"

int main() {
  float features[16];
  for (int i = 0; i < 16; ++i) features[i] = float(i) / 16.f - 0.5f;
  jet_tagger::Session session;  // weights are embedded in the header
  float probabilities[3];
  session.infer(features, probabilities);
  std::printf("%s -> %s:", jet_tagger::Session::input_names[0], jet_tagger::Session::output_names[0]);
  for (float p : probabilities) std::printf(" %.6f", p);
  std::printf("\n");
  return 0;
}
