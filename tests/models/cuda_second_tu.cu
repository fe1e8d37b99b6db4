// A second translation unit with the same CUDA header: a program whose .cu files include one
// header must link (no kernel or function defined twice). Built with -include the header.
int second_translation_unit() { return static_cast<int>(MODEL_NS::Session::num_inputs); }
