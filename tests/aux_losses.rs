//! Auxiliary losses (`aux_loss = softmax_cross_entropy(aux, weight = 0.4);` before the network's
//! loss): the total is the network's loss plus each weighed auxiliary one, as Inception's
//! `criterion(logits, y) + 0.4 * criterion(aux, y)`; its gradient against finite differences
//! (f64), the value against the runtime's loss kernels, and the products seeded at the output
//! (`backward_from`, `input_grad_from`) leaving the auxiliary losses out.

#[path = "common/gradients.rs"]
mod gradients;

use gradients::{check_gradient, check_input_gradient, random_batch};
use monograd::prelude::*;
use monograd::runtime::ops::loss::softmax_cross_entropy;

monograd::network! {
    /// A head of its own (weight 0.4) and one on a node the network's path also uses (0.3).
    struct Inception {
        type Element = f64;
        input x: [6];
        h = linear(x, 8);
        a = tanh(h);
        aux = linear(a, 3);
        aux_loss = softmax_cross_entropy(aux, weight = 0.4);
        mid = linear(a, 3);
        mid_loss = softmax_cross_entropy(mid, weight = 0.3);
        m = tanh(mid);
        logits = linear(m, 3);
        loss = softmax_cross_entropy(logits);
    }
}

/// The rows of `Inception::PARAM_TENSORS` of layer `name`.
fn layer_range(name: &str) -> (usize, usize) {
    let tensors: Vec<_> = Inception::PARAM_TENSORS
        .iter()
        .filter(|t| t.name.starts_with(&format!("{name}.")))
        .collect();
    let start = tensors[0].offset;
    let end = tensors.iter().map(|t| t.offset + t.len()).max().unwrap();
    (start, end)
}

#[test]
fn the_total_is_the_loss_plus_the_weighed_auxiliary_losses() {
    let mut net = Inception::new(1);
    let x = random_batch::<6, 4>(2);
    let targets = [2, 0, 1, 1];
    let mut tape = InceptionTape::<4>::new();
    net.forward_train(&mut tape, &x).unwrap();
    let total = net.backward(&mut tape, &x, &targets).unwrap();
    let v = &tape.values;
    let want = softmax_cross_entropy(&v.logits, &targets).unwrap()
        + 0.4 * softmax_cross_entropy(&v.aux, &targets).unwrap()
        + 0.3 * softmax_cross_entropy(&v.mid, &targets).unwrap();
    assert!((total - want).abs() < 1e-14, "{total} vs {want}");
    // Evaluation mode (no dropout or normalization here, so the same values).
    assert!((net.loss(&mut tape, &x, &targets).unwrap() - want).abs() < 1e-14);
    // Inference returns what the network's loss takes.
    assert_eq!(net.forward(&x), *tape.values.logits);
    check_gradient("auxiliary losses", &mut net, &x, &targets);
}

#[test]
fn the_input_gradient_includes_the_auxiliary_losses() {
    let mut net = Inception::new(3);
    let x = random_batch::<6, 4>(4);
    let targets = [0, 0, 2, 1];
    let mut tape = InceptionTape::<4>::new();
    net.forward_train(&mut tape, &x).unwrap();
    net.backward_with_input_grad(&mut tape, &x, &targets)
        .unwrap();
    let analytic = tape.input_grad.as_flattened().to_vec();
    let mut flat = x.as_flattened().to_vec();
    check_input_gradient(
        "auxiliary losses: input gradient",
        &mut net,
        &mut flat,
        |v| core::array::from_fn(|s| core::array::from_fn(|i| v[s * 6 + i])),
        &targets,
        &analytic,
    );
}

#[test]
fn products_seeded_at_the_output_leave_the_auxiliary_losses_out() {
    let mut net = Inception::new(5);
    let x = random_batch::<6, 3>(6);
    let upstream = random_batch::<3, 3>(7);
    let mut tape = InceptionTape::<3>::new();
    // A training step first leaves the auxiliary gradients in the tape.
    net.forward_train(&mut tape, &x).unwrap();
    net.backward(&mut tape, &x, &[0, 1, 2]).unwrap();
    net.forward_train(&mut tape, &x).unwrap();
    net.backward_from(&mut tape, &x, &upstream);
    let analytic = tape.param_grads.to_vec();
    let (start, end) = layer_range("aux");
    assert!(analytic[start..end].iter().all(|&g| g == 0.0));
    let weighted = |y: &[[f64; 3]; 3]| -> f64 {
        y.as_flattened()
            .iter()
            .zip(upstream.as_flattened())
            .map(|(y, u)| y * u)
            .sum()
    };
    let mut params = net.params.to_vec();
    monograd::runtime::gradcheck::assert_gradient(
        "backward_from with auxiliary losses",
        |p| {
            net.params.copy_from_slice(p);
            let y = *net.forward_train(&mut tape, &x).unwrap();
            weighted(&y)
        },
        &mut params,
        &analytic,
        1e-6,
    );
    net.params.copy_from_slice(&params);
    net.forward_train(&mut tape, &x).unwrap();
    let dx = *net.input_grad_from(&mut tape, &x, &upstream);
    let mut flat = x.as_flattened().to_vec();
    monograd::runtime::gradcheck::assert_gradient(
        "input_grad_from with auxiliary losses",
        |v| {
            let x: [[f64; 6]; 3] = core::array::from_fn(|s| core::array::from_fn(|i| v[s * 6 + i]));
            let y = *net.forward_train(&mut tape, &x).unwrap();
            weighted(&y)
        },
        &mut flat,
        dx.as_flattened(),
        1e-6,
    );
}

#[test]
fn training_with_auxiliary_losses_lowers_the_total() {
    let mut net = Inception::new(8);
    let x = random_batch::<6, 8>(9);
    let targets = [0, 1, 2, 0, 1, 2, 0, 1];
    let mut tape = InceptionTape::<8>::new();
    let mut adam = Adam::new(AdamConfig {
        lr: 0.05,
        ..AdamConfig::default()
    })
    .unwrap();
    let first = net.train_step(&mut tape, &x, &targets, &mut adam).unwrap();
    let mut last = first;
    for _ in 0..30 {
        last = net.train_step(&mut tape, &x, &targets, &mut adam).unwrap();
    }
    assert!(last < 0.5 * first, "{first} -> {last}");
}

/// From `python3 reference/aux_losses.py`: PyTorch's total and gradients for the parameters and
/// inputs set below.
mod reference {
    pub const TOTAL: f64 = 1.9939174102015058;
    pub const PARAM_GRAD: [f64; 122] = [
        -0.004678551039046269,
        -0.0070986258265956685,
        -0.006088103358577255,
        -0.0021353451418738433,
        0.0028493746632199096,
        0.006457059371872395,
        -0.020190857160295346,
        -0.025171293515308675,
        -0.01798704158245905,
        -0.0021100796806771726,
        0.014786633612203462,
        0.024537318092147015,
        -0.01622636643026827,
        -0.02362388825493438,
        -0.019604546000136076,
        -0.006110792310276437,
        0.010336162159716868,
        0.0217878949622464,
        -0.01574159977104313,
        -0.02840349307301935,
        -0.027338652812033588,
        -0.013061690994154624,
        0.0075276758401627755,
        0.02447909573814313,
        -0.006350927431044862,
        -0.026758016035478758,
        -0.034233591045854675,
        -0.025164884619373704,
        -0.003934587172211136,
        0.019197202801041233,
        0.04414497395965383,
        0.021723102008980727,
        -0.011197029175926267,
        -0.03870590211173252,
        -0.047509131898790594,
        -0.03335232667516217,
        0.0535395787833976,
        0.02116501916333892,
        -0.02143809150722812,
        -0.05368068174949434,
        -0.05998067352476373,
        -0.03729343044533378,
        -0.006434809986010996,
        -0.012966193969086395,
        -0.01323132437969535,
        -0.007102069987763055,
        0.002459446141023636,
        0.010832370366571639,
        -0.03713290324545849,
        -0.042842455058774466,
        -0.023481230793921705,
        0.009606745308959169,
        0.02083318104711296,
        0.04249195686297815,
        0.09958095273971085,
        0.043926833898709515,
        -0.07508680076295102,
        0.04344743134754227,
        0.05067288145356432,
        -0.08382611412268678,
        0.051518234340755004,
        0.003656460103863921,
        -0.0667397526370416,
        0.06601214543719205,
        0.0036603395197902476,
        0.04423657466497412,
        -0.09106225765101066,
        0.032844609119503924,
        0.035153964360196445,
        -0.06376458980517637,
        0.07319659277484523,
        0.0074848134901671914,
        0.07142646124316078,
        -0.0876840060125164,
        0.040389376197446335,
        0.05098150500318285,
        -0.08667219870095146,
        0.06010812970131245,
        -0.006456840137803634,
        -0.07349695892735926,
        -0.023534022277829483,
        0.04208519621112519,
        -0.018551173933295695,
        -0.1735108559427166,
        0.08461142134376617,
        0.06144707222198222,
        -0.16796823322737758,
        0.11791991644383107,
        -6.374672239345056e-05,
        -0.09551956033602899,
        0.1584709126629038,
        0.00489986192999748,
        0.017030100358824993,
        0.006547643701102354,
        -0.001562081249499525,
        0.005984839795141035,
        -0.011137764231397255,
        -0.010960947940942828,
        -0.005124289160477448,
        -0.011030678712902565,
        -0.06777719655368787,
        0.04155000169985462,
        -0.013515266033140596,
        -0.03817253163467011,
        0.06417311665144772,
        -0.017821318924034116,
        0.0045446956447348155,
        0.04800816267395768,
        -0.04666324214519506,
        0.07642783847208948,
        0.12123261398543565,
        -0.11341296150018204,
        0.13559050924522495,
        -0.18623382229859098,
        0.07181389791404905,
        -0.18148279237832776,
        0.06500120831315535,
        0.04159906358613298,
        0.04589228313310279,
        0.10056178466980463,
        -0.22799697224651758,
        0.12743518757671296,
    ];
    pub const INPUT_GRAD: [f64; 24] = [
        0.004591785457115059,
        0.006105643594717945,
        0.006793131514644684,
        0.006561200952084815,
        0.005441242620645355,
        0.003584837626524595,
        -0.0005299601561828291,
        -0.0013313634212355533,
        -0.0019525728929322018,
        -0.0023095107835039755,
        -0.002353867223933372,
        -0.0020796387780937036,
        0.017182327293924344,
        0.013025626423160653,
        0.007105968121998078,
        0.00022455037112647895,
        -0.006687259219063685,
        -0.01269397964530473,
        -0.0032215899033781964,
        0.002607626842311919,
        0.008083913527825632,
        0.012466080440700843,
        0.015161021846954222,
        0.015803990069791007,
    ];
}

#[test]
fn total_and_gradients_match_pytorch() {
    let params: Vec<f64> = (0..Inception::PARAMS)
        .map(|k| 0.5 * (0.37 * k as f64).sin())
        .collect();
    let mut net = Inception::from_params(&params).unwrap();
    let x: [[f64; 6]; 4] =
        core::array::from_fn(|s| core::array::from_fn(|i| (0.71 * (s * 6 + i) as f64).cos()));
    let mut tape = InceptionTape::<4>::new();
    net.forward_train(&mut tape, &x).unwrap();
    let total = net
        .backward_with_input_grad(&mut tape, &x, &[2, 0, 1, 1])
        .unwrap();
    assert!((total - reference::TOTAL).abs() < 1e-14, "{total}");
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-13 + 1e-11 * b.abs();
    for (k, (a, b)) in tape
        .param_grads
        .iter()
        .zip(reference::PARAM_GRAD)
        .enumerate()
    {
        assert!(close(*a, b), "parameter gradient {k}: {a} vs {b}");
    }
    for (k, (a, b)) in tape
        .input_grad
        .as_flattened()
        .iter()
        .zip(reference::INPUT_GRAD)
        .enumerate()
    {
        assert!(close(*a, b), "input gradient {k}: {a} vs {b}");
    }
}
