"""Overview: what the model is, how well it does, and where to start."""
import streamlit as st

from lab import model_card, sources, ui

st.title("Dynamic facial expression recognition, explained")
st.markdown(
    "A **two-stream network** reads a face video and names its expression, one of "
    f"*{', '.join(ui.CLASSES)}*. The **spatial stream** looks at the face crops (appearance), the **temporal stream** "
    "at the optical flow between them (motion). Between the two, an **inter-stream attention module** lets each "
    "stream ask the other: appearance asks *where does this move?*, motion asks *what is it that moves here?* "
    "(after patent CN112800894). This lab lets you look inside."
)

chosen = ui.selection()
loaded = ui.current_model(chosen)

st.subheader("Architecture")
st.caption(f"Shapes for {'checkpoint ' + chosen.checkpoint_name if loaded else 'the default recipe'}.")
st.graphviz_chart(model_card.architecture_dot(*ui.architecture(loaded)), width="stretch")

st.subheader("Model card")
checkpoints = sources.checkpoint_choices()
if checkpoints:
    st.dataframe(model_card.metrics_table(checkpoints), hide_index=True)
    st.caption("WAR = accuracy over all clips; UAR = mean of the per-class recalls (fair to rare classes). "
               "Measured on the embedded procedural corpus, not on AFEW or DFEW.")
ablation = model_card.ablation_table(sources.ablation_file())
if ablation is not None:
    st.markdown("**Ablation**: what each part of the design contributes.")
    st.dataframe(ablation, hide_index=True)
else:
    st.caption("No ablation results yet (assets/results/ablation.json).")

st.subheader("A guided tour")
st.markdown(
    "1. **Analyze a clip**: pick a shipped sample or upload a video. See the face track, the crops and the motion "
    "the model sees, its prediction with the attention module on, switched off, and from a model trained without it.\n"
    "2. Open **Saliency**: which pixels and which moments drove the decision, for each stream. Try Grad-CAM, then "
    "Integrated Gradients: do they agree? Which stream carries more of the evidence?\n"
    "3. Open **Inter-stream attention**: which moments of the motion stream the appearance stream listens to.\n"
    "4. **Confusion matrices**: which expressions are confused, on every split, and what the module changes. "
    "Click a cell and open its clips.\n"
    "5. **Dataset explorer**: play the clips and see the facial action units that drive each one, with the "
    "expression's onset and apex marked."
)
columns = st.columns(3)
columns[0].page_link("pages/analyze.py", label="Analyze a clip", icon=":material/search:")
columns[1].page_link("pages/confusion.py", label="Confusion matrices", icon=":material/grid_on:")
columns[2].page_link("pages/dataset.py", label="Dataset explorer", icon=":material/movie:")
